/**
 * The size of a JSON page of outputs: the `limit` query parameter's default and maximum. Shared by
 * the output routes and the runtime config's output limits (`max_page_size` cannot exceed it), so
 * neither feature imports the other for it.
 */
export const JSON_LIMIT = { default: 100, max: 1000 } as const;
