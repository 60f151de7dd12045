#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { AiBurstExampleStack } from './example-stack';

// Environment-agnostic on purpose: `npx cdk synth` runs offline, with no AWS account.
const app = new App();
new AiBurstExampleStack(app, 'AiBurstExample');
app.synth();
