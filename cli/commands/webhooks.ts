import type { Command } from "commander";

export function webhooksCommand(_program: Command): void {}
