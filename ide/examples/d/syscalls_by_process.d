/*
 * title: System calls by process
 * group: syscalls
 * description: Counts every system call by process name; a pie chart of who is busiest.
 */
syscall:::entry
{
	@calls[execname] = count();
}
