// Gratuitous ARP bursts: one at once, one again after `repeat_after` (a switch that was
// still learning may have missed the first), and one every `refresh` while active, if set.

import type { GarpConfig, VipConfig } from '../config/types';
import type { Clock, Timer } from '../ports/clock';
import type { Logger } from '../ports/log';
import type { ArpPort } from '../ports/network';

export class GarpScheduler {
  private timers = new Set<Timer>();
  private refreshTimer: Timer | null = null;

  constructor(
    private arp: ArpPort,
    private clock: Clock,
    private log: Logger,
    private settings: () => { garp: GarpConfig; vips: VipConfig[] },
    /** Whether this node still holds the VIP when a delayed burst is due. */
    private holds: (vip: string) => boolean,
  ) {}

  announce(vipNames: string[]): void {
    this.burst(vipNames);
    const { repeatAfterMs } = this.settings().garp;
    if (repeatAfterMs > 0) {
      const timer = this.clock.after(repeatAfterMs, () => {
        this.timers.delete(timer);
        this.burst(vipNames.filter((v) => this.holds(v)));
      });
      this.timers.add(timer);
    }
  }

  /** Starts or stops the periodic refresh, following whether the node is active. */
  setActive(active: boolean): void {
    const { refreshMs } = this.settings().garp;
    if (active && refreshMs > 0 && !this.refreshTimer) {
      this.refreshTimer = this.clock.every(refreshMs, () =>
        this.burst(
          this.settings()
            .vips.map((v) => v.name)
            .filter((v) => this.holds(v)),
        ),
      );
    } else if ((!active || refreshMs === 0) && this.refreshTimer) {
      this.refreshTimer.cancel();
      this.refreshTimer = null;
    }
  }

  stop(): void {
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    this.setActive(false);
  }

  /**
   * One burst: a frame now, then one every `interval`, each sent only if this node still
   * holds the VIP. A burst must end with the VIP: a released VIP announced a moment longer
   * would be taken by the other node's free-address check for a holder (and, worse, would
   * pull the phones back to a node that no longer answers).
   */
  private burst(vipNames: string[]): void {
    const { garp, vips } = this.settings();
    for (const name of vipNames) {
      const vip = vips.find((v) => v.name === name);
      if (!vip) continue;
      this.frame(vip);
      for (let i = 1; i < garp.count; i++) {
        const timer = this.clock.after(i * garp.intervalMs, () => {
          this.timers.delete(timer);
          if (this.holds(vip.name)) this.frame(vip);
        });
        this.timers.add(timer);
      }
    }
  }

  private frame(vip: VipConfig): void {
    this.arp.announce(vip.address, vip.interface, 1, 0).catch((e: Error) => {
      this.log.log('error', `gratuitous ARP for ${vip.address} on ${vip.interface} failed: ${e.message}`);
    });
  }
}
