/** Vite `?raw` imports: fixture files as their exact text. */
declare module "*?raw" {
  const text: string;
  export default text;
}
