#pragma once
// asr::Collectives (asr/collectives.h) over a c10d process group: what Trainer::attach_world takes.
#include <memory>

#include "asr/collectives.h"
#include "asr/distributed/process_group.h"

namespace asr::distributed {

// The trainer's collectives on `group` (shared: a World handle and the trainers attached to it hold it);
// gradients are summed by a GradientSynchronizer with buckets of `bucket_mb`.
std::shared_ptr<Collectives> trainer_collectives(std::shared_ptr<ProcessGroup> group, double bucket_mb = 25);

}  // namespace asr::distributed
