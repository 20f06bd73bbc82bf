/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * For a sink that shows every VM at once (the live view, Prometheus): its
 * per-VM slots (struct lm_sink_vm.state) linked in order of appearance.
 * The link is the slot's first member; a slot joins the first time the
 * sink hears of its VM and must leave in on_forget, before the pipeline
 * frees it.
 */
#ifndef LM_VM_LIST_H
#define LM_VM_LIST_H

struct lm_vm_link {
	struct lm_vm_link *prev, *next;
	int linked;
};

struct lm_vm_list {
	struct lm_vm_link *head, *tail;
	int n;
};

/* Appends e unless it is in already. */
static inline void lm_vm_list_add(struct lm_vm_list *l, struct lm_vm_link *e)
{
	if (e->linked)
		return;
	e->prev = l->tail;
	e->next = NULL;
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
	e->linked = 1;
	l->n++;
}

static inline void lm_vm_list_del(struct lm_vm_list *l, struct lm_vm_link *e)
{
	if (!e->linked)
		return;
	if (e->prev)
		e->prev->next = e->next;
	else
		l->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		l->tail = e->prev;
	e->linked = 0;
	l->n--;
}

#endif /* LM_VM_LIST_H */
