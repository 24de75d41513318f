/*
 * title: Page faults by process
 * group: memory
 * description: Counts address-space faults by process name.
 */
vminfo:::as_fault
{
	@faults[execname] = count();
}
