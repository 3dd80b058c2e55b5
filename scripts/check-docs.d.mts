/** Types of ./check-docs.mjs for the test that calls it. */
export function slug(heading: string): string;
export function docFiles(root: string): string[];
export function anchorsOf(file: string): Set<string>;
export function checkDocs(root: string): string[];
