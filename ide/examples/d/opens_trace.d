/*
 * title: Files opened (trace)
 * group: syscalls
 * description: Prints each open as it happens: process, pid and path.
 */
syscall::open*:entry
{
	printf("%-16s %-7d %s\n", execname, pid, copyinstr(arg0));
}
