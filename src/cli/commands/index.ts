// Every subcommand, in the order `mamba-dna --help` lists them. Each module exports register(program).
import type { Command } from 'commander';
import { register as index } from './index-cmd.js';
import { register as info } from './info.js';
import { register as init } from './init.js';
import { register as tokenize } from './tokenize.js';
import { register as embed } from './embed.js';
import { register as evaluate } from './eval.js';
import { register as devices } from './devices.js';
import { register as pretrain } from './pretrain.js';
import { register as plot } from './plot.js';
import { register as classify } from './classify.js';

export type Register = (program: Command) => void;

export const commands: Register[] = [index, info, tokenize, init, pretrain, plot, embed, evaluate, classify, devices];
