export { runLab, checkLab, prepare, type LabOptions, type LabRun, type LabCheck } from './lab.js';
export { HOST_PACKAGES, missingPackages, installCommand } from './host.js';
export { LabError, LAB_DIR } from './util.js';
export type { GuestResult, Sink, Accel, Role } from './guest.js';
