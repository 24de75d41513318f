/*
 * title: Virtual memory events
 * group: memory
 * description: Counts vminfo events (page-ins, page-outs, faults...) by name.
 * platform: illumos
 */
vminfo:::
{
	@events[probename] = count();
}
