/*
 * title: Disk I/O latency
 * group: io
 * description: Distribution of disk I/O latency in microseconds, start to done.
 */
io:::start
{
	start[args[0]->b_edev, args[0]->b_blkno] = timestamp;
}

io:::done
/start[args[0]->b_edev, args[0]->b_blkno]/
{
	@latency_us = quantize((timestamp - start[args[0]->b_edev, args[0]->b_blkno]) / 1000);
	start[args[0]->b_edev, args[0]->b_blkno] = 0;
}
