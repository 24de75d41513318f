/*
 * title: Virtual memory events
 * group: memory
 * description: Counts vminfo events (page-ins, page-outs, faults...) by name.
 */
vminfo:::
{
	@events[probename] = count();
}
