# bash completion for portwho(8)                          -*- shell-script -*-
# Installed as /usr/share/bash-completion/completions/portwho.

_portwho_columns()
{
	# Column names come from the binary itself, so they never go stale.
	"${1:-portwho}" --list-columns 2>/dev/null | awk '{print $1}'
}

_portwho_netns()
{
	printf '%s\n' all current
	local n
	for n in /run/netns/*; do
		[[ -e $n ]] && printf '%s\n' "${n##*/}"
	done
}

_portwho_services()
{
	[[ -r /etc/services ]] || return
	awk '!/^[[:space:]]*(#|$)/ {print $1}' /etc/services | sort -u
}

_portwho()
{
	local cur prev words cword
	_init_completion -n =: || return

	local verb= i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		check | kill | watch)
			verb=${words[i]}
			break
			;;
		-*) ;;
		*) break ;;
		esac
	done

	case $prev in
	-o | --output)
		local prefix= list=$cur
		if [[ $cur == *,* ]]; then
			prefix=${cur%,*},
			list=${cur##*,}
		fi
		local plus=
		[[ $list == +* ]] && plus=+ && list=${list#+}
		COMPREPLY=($(compgen -P "$prefix$plus" -W "$(_portwho_columns "${words[0]}")" -- "${list^^}"))
		compopt -o nospace
		return
		;;
	-N | --netns)
		COMPREPLY=($(compgen -W "$(_portwho_netns)" -- "$cur"))
		return
		;;
	-s | --state)
		if [[ $verb == kill ]]; then
			COMPREPLY=($(compgen -W 'TERM INT HUP KILL QUIT USR1 USR2' -- "$cur"))
			return
		fi
		COMPREPLY=($(compgen -W 'LISTEN UNCONN ESTAB SYN-SENT SYN-RECV FIN-WAIT-1
			FIN-WAIT-2 TIME-WAIT CLOSE-WAIT LAST-ACK CLOSING BOUND connected bound all' -- "$cur"))
		return
		;;
	--collector)
		COMPREPLY=($(compgen -W 'auto procfs bpf' -- "$cur"))
		return
		;;
	--signal)
		COMPREPLY=($(compgen -W 'TERM INT HUP KILL QUIT USR1 USR2' -- "$cur"))
		return
		;;
	--user)
		COMPREPLY=($(compgen -u -- "$cur"))
		return
		;;
	-p | --pid)
		COMPREPLY=($(compgen -W "$(cd /proc 2>/dev/null && printf '%s\n' [0-9]*)" -- "$cur"))
		return
		;;
	-c | --command | --device | --timeout | --kill-after | --count | --duration | --interval)
		return
		;;
	esac

	local opts
	case $verb in
	check)
		opts='--reuseaddr --reuseport --v6only -4 -6 --device --user -l --listen
			--no-trial -N --netns -J --json -h --help'
		;;
	kill)
		opts='-t -u -4 -6 -a --all -N --netns -s --signal --timeout --kill-after
			--unit -y --yes --dry-run -J --json -h --help'
		;;
	watch)
		opts='-t -u -4 -6 -a --all -N --netns -J --json --count --duration --poll --interval -h --help'
		;;
	*)
		opts='-t --tcp -u --udp -4 -6 -l --listening -a --all -s --state -p --pid
			-c --command --user -n --numeric -N --netns -o --output --list-columns
			-J --json -r --raw --noheadings --tree --explain --pids --prometheus
			--collector -h --help -V --version'
		;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return
	fi

	# A PORTSPEC (or, first, a verb): service names; numbers are typed.
	local words_=
	[[ -z $verb && $i -ge $cword ]] && words_='check kill watch'
	COMPREPLY=($(compgen -W "$words_ $(_portwho_services)" -- "$cur"))
} &&
	complete -F _portwho portwho

# ex: filetype=sh
