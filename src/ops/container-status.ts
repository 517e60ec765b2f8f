/**
 * A container's Status as `docker ps` / `nerdctl ps` / `mbctl list` print it ("Up 3 minutes",
 * "Exited (1) 2 hours ago", "Created"), computed from inspect data so one observe round trip gives it
 * for every container. Durations are measured against the HOST's clock (Observed.time): a workstation
 * whose clock is off must not make a container look younger or older than it is.
 */
import type { ObservedContainer } from '../remote/observed.js';

/** docker's go-units HumanDuration, so the text reads exactly like `docker ps`. */
export function humanDuration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const minutes = Math.floor(s / 60);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(s / 3600);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(s / 3600 / 24 / 365)} years`;
}

/**
 * Epoch seconds of an engine timestamp, or undefined for none / Go's zero time (`0001-01-01T00:00:00Z`,
 * what docker reports for "never started"). Engines print nanoseconds; Date.parse wants at most millis.
 */
export function engineTime(text: string | undefined): number | undefined {
  if (!text || text.startsWith('0001-01-01')) return undefined;
  const trimmed = text.replace(/(\.\d{3})\d+/, '$1');
  const ms = Date.parse(trimmed);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/** `Up 3 minutes`, `Up 2 hours (healthy)`, `Up 5 seconds (Paused)`, `Exited (1) 2 hours ago`, `Created`… */
export function containerStatusText(c: ObservedContainer, nowSec: number): string {
  const started = engineTime(c.startedAt);
  const finished = engineTime(c.finishedAt);
  const since = (t: number | undefined): string | undefined => (t === undefined ? undefined : humanDuration(Math.max(0, nowSec - t)));
  switch (c.state) {
    case 'running': {
      const up = since(started);
      return `Up${up ? ` ${up}` : ''}${c.health ? ` (${c.health})` : ''}`;
    }
    case 'paused': {
      const up = since(started);
      return `Up${up ? ` ${up}` : ''} (Paused)`;
    }
    case 'restarting': {
      const ago = since(finished);
      return `Restarting (${c.exitCode ?? 0})${ago ? ` ${ago} ago` : ''}`;
    }
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'created':
      return 'Created';
    case 'exited': {
      if (started === undefined) return 'Created';
      const ago = since(finished);
      return `Exited (${c.exitCode ?? 0})${ago ? ` ${ago} ago` : ''}`;
    }
    default:
      return c.running ? 'Up' : c.state.charAt(0).toUpperCase() + c.state.slice(1);
  }
}
