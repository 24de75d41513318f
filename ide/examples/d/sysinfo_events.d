/*
 * title: Kernel statistics events
 * group: memory
 * description: Counts sysinfo events (reads, writes, forks, interrupts...) by name.
 */
sysinfo:::
{
	@events[probename] = count();
}
