import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

/**
 * hosts/<host>/deployed.yaml: what man8s last deployed to a host, from which commit, by whom, and per
 * container the hashes and result. Written after every deploy and committed, so git history is the
 * deployment log and `deploy --changed` knows where each host stands.
 */
export const DEPLOYED_FILE = 'deployed.yaml';

export type ContainerResult = 'created' | 'recreated' | 'restarted' | 'started' | 'unchanged' | 'failed' | 'skipped' | 'removed';

export interface DeployedContainer {
  spec_hash: string;
  files_hash: string;
  image: string;
  image_id?: string;
  result: ContainerResult;
  error?: string;
}

export interface DeployedRecord {
  commit: string;
  deployed_at: string;
  deployed_by: string;
  containers: Record<string, DeployedContainer>;
}

export function deployedPath(hostDir: string): string {
  return join(hostDir, DEPLOYED_FILE);
}

/** The record in hosts/<host>/deployed.yaml, or null when the host was never deployed by man8s. */
export async function readDeployed(hostDir: string): Promise<DeployedRecord | null> {
  let text: string;
  try {
    text = await readFile(deployedPath(hostDir), 'utf8');
  } catch {
    return null;
  }
  const data = parse(text) as Partial<DeployedRecord> | null;
  if (!data || typeof data.commit !== 'string') return null;
  return { commit: data.commit, deployed_at: String(data.deployed_at ?? ''), deployed_by: String(data.deployed_by ?? ''), containers: data.containers ?? {} };
}

export function renderDeployed(record: DeployedRecord): string {
  const sorted: DeployedRecord = {
    ...record,
    containers: Object.fromEntries(Object.entries(record.containers).sort(([a], [b]) => a.localeCompare(b))),
  };
  return `# Written by man8s after each deploy: what runs on this host and from which commit. Do not edit.\n${stringify(sorted, { lineWidth: 0 })}`;
}

export async function writeDeployed(hostDir: string, record: DeployedRecord): Promise<string> {
  const path = deployedPath(hostDir);
  await writeFile(path, renderDeployed(record));
  return path;
}
