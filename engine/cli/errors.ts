/** The CLI's own errors (usage: exit code 2). */
export class UsageError extends Error {}
