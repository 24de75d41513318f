/*
 * title: Memory system calls
 * group: memory
 * description: Counts mmap, munmap, mprotect and brk calls by process and call.
 */
syscall::mmap*:entry,
syscall::munmap:entry,
syscall::mprotect:entry,
syscall::brk:entry
{
	@calls[execname, probefunc] = count();
}
