/** Public surface of the sandbox: local test hosts in network namespaces (see docs and DESIGN "Tests"). */
export { sandboxUp, sandboxDown, sandboxStatus, sandboxImages, sandboxReset, sandboxState } from './sandbox.js';
export type { UpOptions, UpResult, DownResult, SandboxStatus, HostStatus, Log } from './sandbox.js';
export { readSandboxOverlay, applySandboxOverlay, overlayPath } from './overlay.js';
export type { SandboxOverlay, SandboxHostOverlay } from './overlay.js';
export { PACKAGES, missingPackages, ensurePackages, checkPlatform } from './prereq.js';
export { sandboxPaths, sshAlias } from './layout.js';
export { sshArgv, sshRun } from './ssh.js';
export { findRepoRoot, fleetHostNames } from './repo.js';
