/**
 * IPC channel names, free of any dependency so the sandboxed preload can bundle them
 * (the schemas live in ipc-contract.ts, which needs zod).
 */
/** Prefix of every request channel name: `upkeep:<channel>`. */
export const IPC_PREFIX = 'upkeep:';
/** The main → renderer event channel carrying UpkeepEvent values. */
export const EVENT_CHANNEL = 'upkeep:event';
