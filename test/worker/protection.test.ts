import { AutoScalingClient, SetInstanceProtectionCommand } from '@aws-sdk/client-auto-scaling';
import { mockClient } from 'aws-sdk-client-mock';
import { silentLogger } from '../../runtime/log';
import { ScaleInProtection } from '../../worker/protection';

const asg = mockClient(AutoScalingClient);
afterAll(() => asg.restore());
beforeEach(() => asg.reset());

const wishes = () => asg.commandCalls(SetInstanceProtectionCommand).map((c) => c.args[0].input.ProtectedFromScaleIn);
const make = (idleMs: number) => new ScaleInProtection(new AutoScalingClient({ region: 'us-east-1' }), 'fleet', 'i-1', silentLogger, idleMs);

describe('ScaleInProtection', () => {
  test('on when busy, off after the idle grace; work within the grace keeps it on without a call', async () => {
    asg.on(SetInstanceProtectionCommand).resolves({});
    const p = make(30);
    await p.busy();
    await p.busy();
    p.idle();
    await p.busy(); // work came back within the grace
    p.idle();
    while (p.protectedNow) await new Promise((r) => setTimeout(r, 5));
    expect(wishes()).toEqual([true, false]);
    expect(asg.commandCalls(SetInstanceProtectionCommand)[0].args[0].input).toEqual({
      AutoScalingGroupName: 'fleet',
      InstanceIds: ['i-1'],
      ProtectedFromScaleIn: true,
    });
  });

  test('a failed call never blocks a job and is retried on the next wish', async () => {
    asg.on(SetInstanceProtectionCommand).rejectsOnce(new Error('ValidationError: not InService')).resolves({});
    const p = make(0);
    await expect(p.busy()).resolves.toBeUndefined();
    expect(p.protectedNow).toBe(false);
    await p.busy();
    expect(p.protectedNow).toBe(true);
    await p.close();
    expect(wishes()).toEqual([true, true, false]);
  });

  test('after abandon() (the agent was killed) no call is made', async () => {
    asg.on(SetInstanceProtectionCommand).resolves({});
    const p = make(0);
    p.abandon();
    await p.busy();
    p.idle();
    expect(wishes()).toEqual([]);
  });
});
