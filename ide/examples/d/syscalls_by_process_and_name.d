/*
 * title: System calls by process and name
 * group: syscalls
 * description: Counts system calls keyed by process and call name.
 */
syscall:::entry
{
	@calls[execname, probefunc] = count();
}
