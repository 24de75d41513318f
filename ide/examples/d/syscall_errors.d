/*
 * title: Failing system calls
 * group: syscalls
 * description: Counts system calls that fail, by process, call and errno.
 */
syscall:::return
/errno != 0/
{
	@errors[execname, probefunc, errno] = count();
}
