# The shared core: compiled unchanged by kmod/Kbuild and by the userspace
# Makefile, which both include this list.
ANYPIN_CORE := addr blackhole conf csum flow packet process rewrite second stats table text
