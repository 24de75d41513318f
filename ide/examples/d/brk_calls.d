/*
 * title: Heap growth with brk()
 * group: memory
 * description: Counts brk() calls, the classic way a heap grows, by process.
 */
syscall::brk:entry
{
	@brk[execname] = count();
}
