/** Host errors carry their host name first ("relink: …"); where the host is already printed, drop it. */
export function withoutHostPrefix(host: string, message: string): string {
  return message.startsWith(`${host}: `) ? message.slice(host.length + 2) : message;
}

/** A remote command's complaint as one line: docker, nerdctl and friends spread one failure over a few lines. */
export function remoteError(output: string, code: number): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.length ? lines.slice(0, 3).join('; ') : `exit ${code}`;
}
