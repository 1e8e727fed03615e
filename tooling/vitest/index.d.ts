import type { ViteUserConfig } from 'vitest/config';

/** The vitest project every Herald package uses. */
export declare function heraldProject(name: string): ViteUserConfig;
export declare const SOURCE: string[];
