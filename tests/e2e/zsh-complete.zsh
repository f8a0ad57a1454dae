# zsh -f zsh-complete.zsh FPATH_DIR PATH_DIR 'command line'
# Prints, one per line, the words zsh's completion system offers for the
# command line (compadd is wrapped to record them), using an interactive zsh
# on a pseudo-terminal (zpty), as a user pressing TAB would.
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1=''; fpath=($1 \$fpath); path=($2 \$path); autoload -U compinit; compinit -u -D"
zpty -w z "setopt nolistbeep; zstyle ':completion:*' completer _complete"
zpty -w z "compadd() { builtin compadd -O __hits \"\$@\"; print -l -- \"\${__hits[@]}\" >> \$PW_ZCOMP_OUT; builtin compadd \"\$@\" }"
zpty -w z "$3"$'\t'
# wait until the completion has written its words (at most 5 s)
for i in {1..50}; do
	[[ -s $PW_ZCOMP_OUT ]] && break
	sleep 0.1
done
sleep 0.2
zpty -d z
