export * from './job';
export * from './metrics';
export * from './env';
export * from './tags';
export * from './worker-config';
export * from './api';
export * from './notice';
export * from './boot';
