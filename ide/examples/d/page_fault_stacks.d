/*
 * title: Page fault user stacks
 * group: memory
 * description: Counts user stacks that take faults; a flame graph of who touches new memory.
 * platform: illumos
 * duration: 10
 */
vminfo:::as_fault
{
	@stacks[execname, ustack()] = count();
}
