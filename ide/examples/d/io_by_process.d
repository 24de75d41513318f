/*
 * title: Disk I/O by process
 * group: io
 * description: Counts disk I/O requests by process and direction.
 */
io:::start
{
	@io[execname, args[0]->b_flags & B_READ ? "read" : "write"] = count();
}
