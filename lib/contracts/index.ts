export * from './job';
export * from './metrics';
export * from './env';
export * from './tags';
