#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A stand-in for systemd's D-Bus manager, for `portwho kill --unit` tests.

    kill_fake_systemd.py BUS_ADDRESS UNITS_JSON

Owns org.freedesktop.systemd1 on the bus at BUS_ADDRESS and serves
org.freedesktop.systemd1.Manager.StopUnit(s unit, s mode) -> o job.
UNITS_JSON maps unit names to PIDs: stopping a unit sends SIGTERM to its
PID (as systemd stops a unit's processes); an unknown unit gets the error
org.freedesktop.systemd1.NoSuchUnit, as systemd answers.

Prints "READY" once on the bus, then "CALL {json}" with unit and mode for
each StopUnit. Needs python3-dbus and python3-gi (system python).
"""
import json
import os
import signal
import sys

import dbus
import dbus.exceptions
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

IFACE = "org.freedesktop.systemd1.Manager"


class Manager(dbus.service.Object):
    def __init__(self, bus, units):
        super().__init__(bus, "/org/freedesktop/systemd1")
        self.units = units
        self.jobs = 0

    @dbus.service.method(IFACE, in_signature="ss", out_signature="o")
    def StopUnit(self, unit, mode):
        sys.stdout.write("CALL %s\n" % json.dumps({"unit": str(unit), "mode": str(mode)}))
        sys.stdout.flush()
        if unit not in self.units:
            raise dbus.exceptions.DBusException(
                "Unit %s not loaded." % unit, name="org.freedesktop.systemd1.NoSuchUnit")
        try:
            os.kill(self.units[unit], signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.jobs += 1
        return dbus.ObjectPath("/org/freedesktop/systemd1/job/%d" % self.jobs)


def main():
    address, units = sys.argv[1], json.loads(sys.argv[2])
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(address)
    name = dbus.service.BusName("org.freedesktop.systemd1", bus)  # noqa: F841 (kept owned)
    Manager(bus, units)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
