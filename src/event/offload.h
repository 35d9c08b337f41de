/* offload.h - helper threads that run blocking functions for a loop's tasks
 * (ss__loop_offload). Each loop owns one set, started lazily and joined when
 * the loop is destroyed. */
#ifndef SS_EVENT_OFFLOAD_H
#define SS_EVENT_OFFLOAD_H

typedef struct ss__job {
    void (*fn)(void *);
    void *arg;
    void *owner; /* the waiting task */
    struct ss__job *next;
} ss__job;

typedef struct ss__offload ss__offload;

/* done(job, ctx) is called on the helper thread after job->fn returns. */
int ss__offload_create(ss__offload **out, int max_threads, void (*done)(ss__job *, void *),
                       void *ctx);
/* Queues job, starting a helper if all are busy and fewer than max run.
 * Returns 0 or a negative errno. */
int ss__offload_submit(ss__offload *o, ss__job *job);
/* Lets queued jobs finish, stops and joins the helpers, frees o. */
void ss__offload_destroy(ss__offload *o);

#endif /* SS_EVENT_OFFLOAD_H */
