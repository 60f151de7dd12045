export * from './contracts';
export * from './queue/job-queue';
export * from './store/job-store';
export * from './drill/interruption-drill';
export * from './observability/cost-reporter';
