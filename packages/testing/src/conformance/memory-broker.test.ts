import { MemoryBroker } from '@herald/core';
import { describeBroker } from './broker.ts';

describeBroker({ name: 'MemoryBroker', create: () => new MemoryBroker({ historySize: 5 }), peer: (broker) => broker, historySize: 5 });
