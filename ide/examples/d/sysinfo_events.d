/*
 * title: Kernel statistics events
 * group: memory
 * description: Counts sysinfo events (reads, writes, forks, interrupts...) by name.
 * platform: illumos
 */
sysinfo:::
{
	@events[probename] = count();
}
