/** The twin's public surface. */
export * from './types.js';
export * from './config.js';
export { route, routeCode, Router, ROUTE_LARGE, ROUTE_POOL, type Route, type RouteKind } from './route.js';
export { HakmemModel, PAGE_BYTES, type MemalignFn, type ModelOptions, type ModelSnapshot } from './allocator.js';
export type { RegionView, SlabView, ThreadView, BlockView, LruEntryView, SharedView } from './view.js';
export { Fnv64, fnv1a64Words } from './digest.js';
