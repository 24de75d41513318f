/*
 * title: System calls by name
 * group: syscalls
 * description: Counts system calls by name across the whole machine.
 */
syscall:::entry
{
	@calls[probefunc] = count();
}
