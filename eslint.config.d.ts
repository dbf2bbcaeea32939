// Types for the lint configuration's module table (test/unit/platform/architecture.test.ts reads it).
export declare const MODULES: Record<string, { uses: string[]; web?: boolean; all?: boolean }>;
declare const config: unknown;
export default config;
