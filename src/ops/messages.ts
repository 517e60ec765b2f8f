/** Host errors carry their host name first ("relink: …"); where the host is already printed, drop it. */
export function withoutHostPrefix(host: string, message: string): string {
  return message.startsWith(`${host}: `) ? message.slice(host.length + 2) : message;
}
