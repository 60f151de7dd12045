import { App, CfnResource, Stack, TagManager } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AiBurstExampleStack } from '../bin/example-stack';
import { SHARED_WORKLOAD_TAG_VALUE, Tags } from '../lib';
import { resourceInventory, stacksOf } from './support/inventory';
import { resolveUserData } from './compute/boot-sandbox';
import { flatten } from './compute/support';
import { expectNagClean } from './support/stacks';

// One synth for the file; the nag plugin stays off this app so the inventory is the plain template's.
const app = new App();
const stack = new AiBurstExampleStack(app, 'AiBurstExample');

test('every stack of the example app keeps its logical ids and their types (inventory snapshot)', () => {
  // A changed logical id replaces the resource on the next deploy (a new table, queue or bucket): this
  // snapshot makes such drift a visible diff. What the resources hold is asserted by the construct tests.
  const inventory = Object.fromEntries(stacksOf(app).map((s) => [s.stackName, resourceInventory(Template.fromStack(s))]));
  expect(Object.keys(inventory)).toEqual(['AiBurstExample']);
  expect(inventory).toMatchSnapshot();
});

test('no instance pulls from Docker Hub: every image each launch template pulls or runs is in ECR', () => {
  const ecrImage = /^\d{12}\.dkr\.ecr\.(?:<AWS::Region>|[a-z0-9-]+)\.(?:<AWS::URLSuffix>|amazonaws\.com)\/[a-z0-9._/-]+[:@]/;
  const templates = stacksOf(app).flatMap((s) => Object.values(Template.fromStack(s).findResources('AWS::EC2::LaunchTemplate')));
  expect(templates.length).toBeGreaterThan(0);
  for (const lt of templates) {
    const userData = flatten(lt.Properties.LaunchTemplateData.UserData);
    // The image is the first quoted word after `docker pull`, and after the options of `docker run`.
    const pulled = [...userData.matchAll(/docker pull '([^']+)'/g)].map((m) => m[1]);
    const run = [...userData.matchAll(/docker run [^']*'([^']+)'/g)].map((m) => m[1]);
    expect([pulled.length, run.length]).toEqual([1, 1]);
    const images = [...pulled, ...run];
    for (const image of images) expect(image).toMatch(ecrImage);
    expect(userData).toContain('docker login --username AWS --password-stdin');
    expect(userData).not.toMatch(/docker\.io|vllm\/vllm-openai/);
  }
  expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('Docker Hub'))).toEqual([]);
});

test("each launch template's user data fits EC2's 16 KB limit with room to spare (the agnostic app ships every region's prices)", () => {
  for (const lt of stacksOf(app).flatMap((s) => Object.values(Template.fromStack(s).findResources('AWS::EC2::LaunchTemplate')))) {
    expect(Buffer.byteLength(resolveUserData(lt.Properties.LaunchTemplateData.UserData))).toBeLessThan(14 * 1024);
  }
});

test('example stack has zero unacknowledged cdk-nag findings, each acknowledgement proven', () => {
  expectNagClean(stack);
});

describe('cost allocation tags', () => {
  const workloads: Record<string, string> = { 'realtime-agent': 'agents', 'doc-analysis': 'research' };
  // Synthesize first: the tags are applied by an aspect at synthesis.
  const templates = new Map(stacksOf(app).map((s) => [s, Template.fromStack(s).toJSON().Resources]));
  const taggable = stacksOf(app).flatMap((s) =>
    s.node
      .findAll()
      .filter((c): c is CfnResource => CfnResource.isCfnResource(c) && Stack.of(c) === s && (TagManager.isTaggable(c) || TagManager.isTaggableV2(c)))
      .map((c) => ({ stack: s, resource: c, id: s.getLogicalId(c), tags: (TagManager.of(c)?.tagValues() ?? {}) as Record<string, string> })),
  );

  test('every resource whose CloudFormation type takes Tags carries ai-burst:workload and ai-burst:cost-center', () => {
    expect(taggable.length).toBeGreaterThan(50);
    const untagged = taggable
      .filter((t) => !t.tags[Tags.WORKLOAD] || !t.tags[Tags.COST_CENTER])
      .map((t) => `${t.id} (${t.resource.cfnResourceType})`);
    expect(untagged).toEqual([]);
  });

  test('the tags reach the template: each taggable resource names both keys in its properties', () => {
    const missing = taggable
      .filter((t) => {
        const text = JSON.stringify(templates.get(t.stack)[t.id].Properties ?? {});
        return !text.includes(`"${Tags.WORKLOAD}"`) || !text.includes(`"${Tags.COST_CENTER}"`);
      })
      .map((t) => `${t.id} (${t.resource.cfnResourceType})`);
    expect(missing).toEqual([]);
  });

  test("a workload's resources carry its name and cost center, shared ones _shared and the platform's", () => {
    const wrong = taggable
      .filter((t) => {
        const workload = t.tags[Tags.WORKLOAD];
        const expected = workload === SHARED_WORKLOAD_TAG_VALUE ? 'ai-platform' : workloads[workload];
        return t.tags[Tags.COST_CENTER] !== expected;
      })
      .map((t) => `${t.id}: ${t.tags[Tags.WORKLOAD]} / ${t.tags[Tags.COST_CENTER]}`);
    expect(wrong).toEqual([]);
  });

  test.each([
    ['the job table', 'AWS::DynamoDB::Table'],
    ['the buckets', 'AWS::S3::Bucket'],
    ['the dashboard', 'AWS::CloudWatch::Dashboard'],
  ])('%s are tagged _shared', (_what, type) => {
    const found = taggable.filter((t) => t.resource.cfnResourceType === type);
    expect(found.length).toBeGreaterThan(0);
    for (const t of found) expect(t.tags).toMatchObject({ [Tags.WORKLOAD]: SHARED_WORKLOAD_TAG_VALUE, [Tags.COST_CENTER]: 'ai-platform' });
  });
});
