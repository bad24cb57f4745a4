/**
 * When a run stops. On its own, a stop request is the decision. In a world, each rank may be asked at
 * a different moment (only rank 0 hears the supervisor, a remote worker gets its own SIGTERM), so the
 * ranks vote at the loop's fixed points (World.anyRank) and all stop at the same global step: every
 * rank makes the same votes in the same order, and once the answer is yes no rank votes again.
 */
import type { World } from '../native/types.js';

export class StopVote {
  private asked = false;
  private decided = false;

  constructor(private readonly world: World | null) {}

  /** This process was asked to stop. */
  request(): void {
    this.asked = true;
  }

  get requested(): boolean {
    return this.asked;
  }

  /** The run stops: agreed by a vote, or by a train() that every rank saw cancelled. */
  get stopping(): boolean {
    return this.decided;
  }

  /** A train() call came back cancelled: on every rank alike in a world (the native side agrees per step). */
  cancelled(): void {
    this.decided = true;
  }

  /** Whether the run stops here; a collective in a world (call it on every rank at the same point). */
  async agree(): Promise<boolean> {
    if (this.decided) return true;
    this.decided = this.world ? await this.world.anyRank(this.asked) : this.asked;
    return this.decided;
  }
}
