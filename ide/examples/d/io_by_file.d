/*
 * title: Disk I/O by file
 * group: io
 * description: Sums the bytes of disk I/O by file path.
 */
io:::start
{
	@bytes[args[2]->fi_pathname] = sum(args[0]->b_bcount);
}
