/*
 * title: Page faults by process
 * group: memory
 * description: Counts address-space faults by process name.
 * platform: illumos
 */
vminfo:::as_fault
{
	@faults[execname] = count();
}
