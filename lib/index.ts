export * from './contracts';
export * from './queue/job-queue';
