// Splits one large memory operation into stripes that the calling thread and a few helper threads
// work through together. A single core streams well short of the memory system's bandwidth (and
// gets a bigger share of it when other tenants load the bus), so a multi-MiB copy finishes sooner
// on two or more cores, as a device with several engines would run it.
#pragma once

#include <cstddef>

namespace dm {

// Work on [begin, end) of the operation; called concurrently for disjoint ranges.
using StripeFn = void (*)(void* ctx, size_t begin, size_t end);

// Threads (the caller included) that share one operation: DATAMOVER_COPY_THREADS, else the
// number of online CPUs capped at 4. 1 turns striping off.
unsigned stripeThreads();

// Runs fn over [0, n) in stripes of `stripe` bytes, the first ending at `firstEnd` (so later
// stripes start on a cache-line boundary of the destination). Returns when every stripe is done.
// If another operation holds the helpers, the caller does all the stripes itself.
void runStriped(size_t n, size_t firstEnd, size_t stripe, StripeFn fn, void* ctx);

}  // namespace dm
