/*
 * title: Disk I/O sizes
 * group: io
 * description: Linear distribution of disk I/O sizes in KiB, by device (3D bars).
 */
io:::start
{
	@kib[args[1]->dev_statname] = lquantize(args[0]->b_bcount / 1024, 0, 256, 16);
}
