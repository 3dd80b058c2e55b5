/** JSON text in which `num("…")` values become bare numbers, as Shopify writes ids and amounts (18 digits stay exact). */
export const num = (text: string) => `#num:${text}`;
export const toJson = (value: unknown) => JSON.stringify(value).replace(/"#num:([-+0-9.eE]+)"/g, "$1");
