import { Field, Int, Mutation, ObjectType, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { FeatureFlag, FlagValue } from '../../src/index.js';
import { FLAG } from './support.js';

@ObjectType()
export class Shipment {
  @Field()
  mode!: string;

  @Field(() => Int)
  days!: number;
}

/** Code-first resolvers: a gated query, mutation and field, an open query, and @FlagValue. */
@Resolver(() => Shipment)
export class ShippingResolver {
  @Query(() => String, { nullable: true })
  @FeatureFlag(FLAG)
  expressQuote(): string {
    return 'express: 1 day';
  }

  @Query(() => Shipment)
  shipment(): Shipment {
    return { mode: 'standard', days: 5 };
  }

  @ResolveField(() => String, { nullable: true })
  @FeatureFlag(FLAG)
  expressUpgrade(): string {
    return 'upgrade to express';
  }

  @Mutation(() => String, { nullable: true })
  @FeatureFlag(FLAG)
  bookExpress(): string {
    return 'booked';
  }

  @Query(() => Boolean)
  expressOffered(@FlagValue(FLAG) offered: boolean): boolean {
    return offered;
  }
}

/** What an attacker whose flag is off tries: aliases, a gated field under an open one, a mutation. */
export const ALIASED_QUERY = '{ a: expressQuote b: expressQuote c: expressQuote d: expressQuote }';
export const FIELD_QUERY =
  '{ shipment { mode expressUpgrade } again: shipment { expressUpgrade } }';
export const MUTATION = 'mutation { x: bookExpress y: bookExpress }';
export const OFFERED_QUERY = '{ expressOffered }';

/** The gated fields a GraphQL response answered, and its errors' paths and codes. */
export interface GraphQLOutcome {
  answered: number;
  denied: number;
  codes: string[];
  stackFrames: number;
}

export function outcomeOf(response: { data?: any; errors?: any[] }): GraphQLOutcome {
  const answered = JSON.stringify(response.data ?? {}).match(
    /express: 1 day|upgrade to express|booked/g,
  );
  const errors = response.errors ?? [];
  return {
    answered: answered?.length ?? 0,
    denied: errors.length,
    codes: [...new Set(errors.map((e) => e.extensions?.code as string))],
    stackFrames: errors
      .flatMap((e) => (e.extensions?.stacktrace as string[] | undefined) ?? [])
      .filter((line) => line.trim().startsWith('at ')).length,
  };
}

/** One turn of the sequence: operations and how many gated fields they request. */
export const ATTACK: Array<{ query: string; gatedFields: number }> = [
  { query: ALIASED_QUERY, gatedFields: 4 },
  { query: FIELD_QUERY, gatedFields: 2 },
  { query: MUTATION, gatedFields: 2 },
];
